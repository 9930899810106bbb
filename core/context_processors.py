def program(request):
    """The program's name and currency on every page (as this process last read it: the pages only show it)."""
    from rewards.selectors import program_cached

    return {"program": program_cached()}
