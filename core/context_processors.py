def program(request):
    """The program's name and currency on every page."""
    from rewards.selectors import program_get

    return {"program": program_get()}
