# Finding 1 (Part 3.3): knowledge capacity. A grid of (people N, exposures E, model size) as
# wildcards, so a cluster spreads it. Layout: results/capacity/data/N{n}/seed{seed}/ holds a world
# (people, tokenizer, E fresh-template biographies per person); results/capacity/N{n}/E{e}/{size}/seed{seed}/
# holds the model trained for one pass over them and its bits (unquantized, int8, int4).

CAP_DATA = "results/capacity/data/N{n}/seed{seed}"
CAP_RUN = "results/capacity/N{n}/E{e}/{size}/seed{seed}"


CAP_MODELS = {m["name"]: m for m in config["capacity"]["models"]}


wildcard_constraints:
    n=r"\d+",
    e=r"\d+",
    size="|".join(CAP_MODELS),


rule capacity_people:
    output:
        f"{CAP_DATA}/people.parquet",
    log:
        f"{CAP_DATA}/logs/people.log",
    conda:
        "../envs/physlm.yaml"
    params:
        bios=lambda wildcards: as_json({**config["bios"], "n_people": int(wildcards.n)}),
        version=VERSION,
    shell:
        "physlm people --bios {params.bios:q} --seed {wildcards.seed} --people {output} > {log} 2>&1"


rule capacity_biographies:
    input:
        rules.capacity_people.output,
    output:
        f"{CAP_DATA}/bios/E{{e}}.parquet",
    log:
        f"{CAP_DATA}/logs/bios_E{{e}}.log",
    conda:
        "../envs/physlm.yaml"
    params:
        version=VERSION,
    shell:
        "physlm biographies --people {input} --variant multi{wildcards.e} "
        "--seed {wildcards.seed} --out {output} > {log} 2>&1"


rule capacity_tokenizer:
    input:
        rules.capacity_people.output,
    output:
        directory(f"{CAP_DATA}/tokenizer"),
    log:
        f"{CAP_DATA}/logs/tokenizer.log",
    conda:
        "../envs/physlm.yaml"
    params:
        version=VERSION,
    shell:
        "physlm tokenizer --people {input} --out {output} > {log} 2>&1"


rule capacity_train:
    input:
        bios=rules.capacity_biographies.output,
        tokenizer=rules.capacity_tokenizer.output,
    output:
        model=directory(f"{CAP_RUN}/model"),
        log=f"{CAP_RUN}/train_log.parquet",
    log:
        f"{CAP_RUN}/train.log",
    conda:
        "../envs/physlm.yaml"
    threads: 1
    params:
        model=lambda wildcards: as_json(
            {
                **config["model"],
                **{k: v for k, v in CAP_MODELS[wildcards.size].items() if k != "name"},
            }
        ),
        training=as_json(config["capacity"]["training"]),
        checkpoint=f"{CAP_RUN}/checkpoint.pt",
        version=VERSION,
    shell:
        "physlm train --tokenizer {input.tokenizer} --model {params.model:q} "
        "--training {params.training:q} --bios {input.bios} --epochs 1 --seed {wildcards.seed} "
        "--threads {threads} --checkpoint {params.checkpoint} "
        "--out {output.model} --log {output.log} > {log} 2>&1"


rule capacity_bits:
    input:
        model=rules.capacity_train.output.model,
        bios=rules.capacity_biographies.output,
        people=rules.capacity_people.output,
    output:
        f"{CAP_RUN}/bits.parquet",
    log:
        f"{CAP_RUN}/bits.log",
    conda:
        "../envs/physlm.yaml"
    threads: 1
    params:
        pools=as_json(config["bios"]["pools"]),
        version=VERSION,
    shell:
        "physlm capacity-bits --model {input.model} --bios {input.bios} --people {input.people} "
        "--pools {params.pools:q} --threads {threads} --label n={wildcards.n} "
        "--label exposures={wildcards.e} --label size={wildcards.size} "
        "--label seed={wildcards.seed} --out {output} > {log} 2>&1"


rule capacity_metrics:
    input:
        [
            f"results/capacity/N{n}/E{e}/{size}/seed{seed}/bits.parquet"
            for n in config["capacity"]["people"]
            for e in config["capacity"]["exposures"]
            for size in CAP_MODELS
            for seed in SEEDS
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
        pdf=report(
            "results/figures/knowledge_capacity.pdf",
            caption="../report/knowledge_capacity.rst",
            category="Finding 1",
        ),
        png="results/figures/knowledge_capacity.png",
    log:
        "results/figures/logs/knowledge_capacity.log",
    conda:
        "../envs/physlm.yaml"
    shell:
        "physlm figure-capacity --metrics {input} --out {output.pdf} {output.png} > {log} 2>&1"
