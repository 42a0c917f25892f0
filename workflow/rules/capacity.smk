# Finding 1 (Part 3.3): knowledge capacity. A grid of (dataset, people N, exposures E, model size)
# as wildcards, so a cluster spreads it. Datasets: bioS (E fresh-template biographies per person, one
# pass), bioS_simple (one fixed biography per person, E passes) and bioD (E biographies per person,
# each in its own sentence order, one pass). Layout: results/capacity/data/N{n}/seed{seed}/{world}/
# holds a world (people, tokenizer; world = bioS or bioD) and results/capacity/data/.../{dataset}/E{e}.parquet
# its biographies; results/capacity/{dataset}/N{n}/E{e}/{size}/seed{seed}/ holds the trained model
# and its bits (unquantized, int8, int4).

CAP_RUN = "results/capacity/{data}/N{n}/E{e}/{size}/seed{seed}"


CAP_MODELS = {m["name"]: m for m in config["capacity"]["models"]}
# What a grid entry says beyond the model's shape.
CAP_GRID_KEYS = ("name", "max_people")


def cap_trains(size, n):
    """Whether the grid trains model `size` on N = n people (models may stop at `max_people`)."""
    return n <= CAP_MODELS[size].get("max_people", n)


wildcard_constraints:
    n=r"\d+",
    e=r"\d+",
    size="|".join(CAP_MODELS),
    data="|".join(CAP_WORLD),
    world="bioS|bioD",


rule capacity_people:
    output:
        f"{CAP_DATA}/{{world}}/people.parquet",
    log:
        f"{CAP_DATA}/logs/{{world}}_people.log",
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["data"]["threads"]
    resources:
        **cluster_resources("data"),
    params:
        bios=lambda wildcards: as_json({**config["bios"], "n_people": int(wildcards.n)}),
        biod=lambda wildcards: biod_option(wildcards.world),
        version=VERSION,
    shell:
        "physlm people --bios {params.bios:q} {params.biod} --seed {wildcards.seed} "
        "--people {output} > {log} 2>&1"


rule capacity_biographies:
    input:
        lambda wildcards: f"{cap_world(wildcards)}/people.parquet",
    output:
        f"{CAP_DATA}/{{data}}/E{{e}}.parquet",
    log:
        f"{CAP_DATA}/logs/{{data}}_E{{e}}.log",
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["data"]["threads"]
    resources:
        **cluster_resources("data"),
    params:
        variant=lambda wildcards: (
            "single" if wildcards.data == "bioS_simple" else f"multi{wildcards.e}"
        ),
        biod=lambda wildcards: biod_option(wildcards.data),
        version=VERSION,
    shell:
        "physlm biographies --people {input} --variant {params.variant} {params.biod} "
        "--seed {wildcards.seed} --out {output} > {log} 2>&1"


rule capacity_tokenizer:
    input:
        f"{CAP_DATA}/{{world}}/people.parquet",
    output:
        directory(f"{CAP_DATA}/{{world}}/tokenizer"),
    log:
        f"{CAP_DATA}/logs/{{world}}_tokenizer.log",
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["data"]["threads"]
    resources:
        **cluster_resources("data"),
    params:
        biod=lambda wildcards: biod_option(wildcards.world),
        version=VERSION,
    shell:
        "physlm tokenizer --people {input} {params.biod} --out {output} > {log} 2>&1"


rule capacity_train:
    input:
        bios=f"{CAP_DATA}/{{data}}/E{{e}}.parquet",
        tokenizer=lambda wildcards: f"{cap_world(wildcards)}/tokenizer",
    output:
        model=directory(f"{CAP_RUN}/model"),
        log=f"{CAP_RUN}/train_log.parquet",
    log:
        f"{CAP_RUN}/train.log",
    retries: config["resources"]["train"]["retries"]
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["train"]["threads"]
    resources:
        **cluster_resources("train"),
    params:
        model=lambda wildcards: as_json(
            {
                **config["model"],
                **{
                    k: v
                    for k, v in CAP_MODELS[wildcards.size].items()
                    if k not in CAP_GRID_KEYS
                },
            }
        ),
        training=as_json(config["capacity"]["training"]),
        # bioS_simple sees its one biography E times; the others see each of their E copies once.
        epochs=lambda wildcards: wildcards.e if wildcards.data == "bioS_simple" else 1,
        checkpoint=f"{CAP_RUN}/checkpoint.pt",
        version=VERSION,
    shell:
        "physlm train --tokenizer {input.tokenizer} --model {params.model:q} "
        "--training {params.training:q} --bios {input.bios} --epochs {params.epochs} --seed {wildcards.seed} "
        "--threads {threads} --checkpoint {params.checkpoint} "
        "--out {output.model} --log {output.log} > {log} 2>&1"


rule capacity_bits:
    input:
        model=rules.capacity_train.output.model,
        bios=rules.capacity_train.input.bios,
        people=lambda wildcards: f"{cap_world(wildcards)}/people.parquet",
    output:
        f"{CAP_RUN}/bits.parquet",
    log:
        f"{CAP_RUN}/bits.log",
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["evaluate"]["threads"]
    resources:
        **cluster_resources("evaluate"),
    params:
        pools=as_json(config["bios"]["pools"]),
        biod=lambda wildcards: biod_option(CAP_WORLD[wildcards.data]),
        version=VERSION,
    shell:
        "physlm capacity-bits --model {input.model} --bios {input.bios} --people {input.people} "
        "--pools {params.pools:q} {params.biod} --seed {wildcards.seed} --threads {threads} "
        "--label data={wildcards.data} --label n={wildcards.n} "
        "--label exposures={wildcards.e} --label size={wildcards.size} "
        "--label seed={wildcards.seed} --out {output} > {log} 2>&1"


rule capacity_metrics:
    input:
        [
            f"results/capacity/{data}/N{n}/E{e}/{size}/seed{seed}/bits.parquet"
            for data in config["capacity"]["datasets"]
            for n in config["capacity"]["people"]
            for e in config["capacity"]["exposures"]
            for size in CAP_MODELS
            for seed in SEEDS
            if cap_trains(size, n)
        ],
    output:
        "results/capacity/bits.parquet",
    log:
        "results/capacity/logs/collect.log",
    conda:
        "../envs/physlm.yaml"
    shell:
        "physlm collect {input} --out {output} > {log} 2>&1"


rule figure_capacity:
    input:
        rules.capacity_metrics.output,
    output:
        pdf="results/figures/knowledge_capacity.pdf",
        # The PNG goes in the HTML report: browsers show it inline.
        png=report(
            "results/figures/knowledge_capacity.png",
            caption="../report/knowledge_capacity.rst",
            category="Finding 1",
        ),
    log:
        "results/figures/logs/knowledge_capacity.log",
    conda:
        "../envs/physlm.yaml"
    shell:
        "physlm figure-capacity --metrics {input} --out {output.pdf} {output.png} > {log} 2>&1"
