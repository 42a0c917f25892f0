# The capacity rules' helpers (finding 1): the grid's folders, worlds and model shapes. Included
# by capacity.smk (Snakemake's lint keeps functions out of files with rules).
CAP_DATA = "<results>/capacity/data/N{n}/seed{seed}"
CAP_RUN = "<results>/capacity/{data}/N{n}/E{exposures}/{size}/seed{seed}"
# A dataset is drawn from a world; bioS_simple shares bioS's.
CAP_WORLD = {"bioS": "bioS", "bioS_simple": "bioS", "bioD": "bioD"}
CAP_MODELS = {m["name"]: m for m in config["capacity"]["models"]}


def cap_world(wildcards):
    """The folder of the world a capacity run's dataset comes from."""
    return f"{CAP_DATA}/{CAP_WORLD[wildcards.data]}".format(**wildcards)


def cap_model(wildcards):
    """The model section with the shape of the grid's model `size`."""
    size = CAP_MODELS[wildcards.size]
    return {**config["model"], **{k: size[k] for k in ("n_layer", "n_head", "d_model")}}


def cap_trains(size, n):
    """Whether the grid trains model `size` on N = n people (models may stop at `max_people`)."""
    return n <= CAP_MODELS[size].get("max_people", n)
