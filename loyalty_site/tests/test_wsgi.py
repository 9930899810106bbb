import os
import subprocess
import sys
from pathlib import Path


def test_the_wsgi_module_loads_the_views_and_freezes_what_start_up_made():
    code = (
        "import gc, sys; import loyalty_site.wsgi as w; "
        "print(gc.get_freeze_count() > 10000, 'integrations.apis.orders' in sys.modules, callable(w.application))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "loyalty_site.settings.test"}
    done = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True"]
