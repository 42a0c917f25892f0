# Finding 1 (Part 3.3): knowledge capacity. A grid of (dataset, people N, exposures, model size) as
# wildcards, so a cluster spreads it. Datasets: bioS (E fresh-template biographies per person, one
# pass), bioS_simple (one fixed biography per person, E passes) and bioD (E biographies per person,
# each in its own sentence order, one pass). Layout: <results>/capacity/data/N{n}/seed{seed}/{world}/
# holds a world (bioS or bioD: people, tokenizer) and .../{dataset}/E{exposures}.parquet its
# biographies; <results>/capacity/{dataset}/N{n}/E{exposures}/{size}/seed{seed}/ a trained model and
# its bits (unquantized, int8, int4).


include: "helpers/capacity.smk"


wildcard_constraints:
    n=r"\d+",
    exposures=r"\d+",
    size="|".join(CAP_MODELS),
    data="|".join(CAP_WORLD),
    world="bioS|bioD",


use rule people as capacity_people with:
    output:
        world=directory(f"{CAP_DATA}/{{world}}/world"),
    log:
        f"{CAP_DATA}/logs/{{world}}_people.log",
    params:
        bios=lambda wildcards: as_json({**config["bios"], "n_people": int(wildcards.n)}),
        biod=lambda wildcards: (
            f"--biod-config {shlex.quote(as_json(config['capacity']['biod']))}"
            if wildcards.world == "bioD"
            else ""
        ),
        qa="",


use rule biographies as capacity_biographies with:
    input:
        lambda wildcards: f"{cap_world(wildcards)}/world",
    output:
        f"{CAP_DATA}/{{data}}/E{{exposures}}.parquet",
    log:
        f"{CAP_DATA}/logs/{{data}}_E{{exposures}}.log",
    priority: 0
    params:
        # bioS_simple: one fixed biography, seen E times; the others: E biographies, seen once.
        variant=lambda wildcards: (
            "single"
            if wildcards.data == "bioS_simple"
            else f"multi{wildcards.exposures}"
        ),


use rule tokenizer as capacity_tokenizer with:
    input:
        f"{CAP_DATA}/{{world}}/world",
    output:
        directory(f"{CAP_DATA}/{{world}}/tokenizer"),
    log:
        f"{CAP_DATA}/logs/{{world}}_tokenizer.log",


use rule pretrain as capacity_train with:
    input:
        bios=rules.capacity_biographies.output,
        tokenizer=lambda wildcards: f"{cap_world(wildcards)}/tokenizer",
    output:
        model=directory(f"{CAP_RUN}/model"),
        log=f"{CAP_RUN}/train_log.parquet",
    log:
        f"{CAP_RUN}/train.log",
    priority: 0
    params:
        model=model_option(cap_model),
        training=as_json(config["capacity"]["training"]),
        # One pass over E biographies per person, or E passes over bioS_simple's one.
        options=lambda wildcards: (
            f"--epochs {wildcards.exposures if wildcards.data == 'bioS_simple' else 1}"
        ),
        checkpoint=in_results(f"{CAP_RUN}/checkpoint.pt"),


rule capacity_bits:
    input:
        model=rules.capacity_train.output.model,
        bios=rules.capacity_train.input.bios,
        world=lambda wildcards: f"{cap_world(wildcards)}/world",
    output:
        f"{CAP_RUN}/bits.parquet",
    log:
        f"{CAP_RUN}/bits.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        identity=identity,
        code=code("physlm.knowledge.capacity"),
    shell:
        "physlm capacity-bits --model-dir {input.model} --bios {input.bios} "
        "--world-dir {input.world} --threads {threads} --identity {params.identity:q} "
        "--out {output} > {log} 2>&1"


CAPACITY_METRICS = "<results>/capacity/bits.parquet"
TABLES[CAPACITY_METRICS] = [
    f"<results>/capacity/{data}/N{n}/E{e}/{size}/seed{seed}/bits.parquet"
    for data in config["capacity"]["datasets"]
    for n in config["capacity"]["people"]
    for e in config["capacity"]["exposures"]
    for size in CAP_MODELS
    for seed in SEEDS
    if cap_trains(size, n)
]
TRAINING["capacity"] = [
    (
        f"<results>/capacity/{data}/N{n}/E{e}/{size}/seed{seed}/train_log.parquet",
        {"dataset": data, "people": n, "exposures": e, "model": size, "seed": seed},
    )
    for data in config["capacity"]["datasets"]
    for n in config["capacity"]["people"]
    for e in config["capacity"]["exposures"]
    for size in CAP_MODELS
    for seed in SEEDS
    if cap_trains(size, n)
]
FIGURES["knowledge_capacity"] = figure(
    plot="physlm.knowledge.finding1_capacity:plot_capacity",
    tables={"metrics": CAPACITY_METRICS},
    caption="knowledge_capacity.rst",
    category="Finding 1",
    data=f"N = {', '.join(map(str, config['capacity']['people']))} people, {', '.join(config['capacity']['datasets'])}",
)
CLAIMS["capacity"] = claim(
    function="physlm.knowledge.finding1_capacity:capacity_claims",
    tables={"metrics": CAPACITY_METRICS},
    thresholds="capacity",
)
