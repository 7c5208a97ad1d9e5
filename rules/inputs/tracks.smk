# Input functions of the tracks stage.


def tracks_inputs(wildcards):
    if config["tracks"]["prediction"]:
        return {"predictions": result("predictions/predictions.tsv")}
    return {}


def tracks_outputs():
    outputs = {"bigwig": result("tracks/{target}.bw")}
    if config["tracks"]["prediction"]:
        outputs["prediction_bw"] = result("tracks/{target}.prediction.bw")
        outputs["prediction_bedgraph"] = result("tracks/{target}.prediction.bedGraph")
    return outputs
