# Input functions of the motif database stage.


def motif_db_source():
    """Input files of the motif_db step (the MEME file), or nothing for a jaspar spec."""
    spec = config["motif_db"]
    return [] if spec.lower().startswith("jaspar:") else [spec]
