# Input functions of the modisco stage.


def modisco_settings():
    """The modisco rule's settings: config modisco, its window filled in (the whole window
    by default) and checked against the window length."""
    settings = dict(config["modisco"])
    if settings["window"] is None:
        settings["window"] = window() - window() % 2
    if settings["window"] > window():
        raise ValueError(
            f"config key modisco.window is {settings['window']} but window is {window()}; "
            f"set modisco.window to at most {window()} (an even number)"
        )
    return settings
