# Finding 2 (Part 3.1): knowledge storage and extraction on bioS.
# Layout: <results>/knowledge/data/seed{seed}/ holds the world (people), its QA pairs, tokenizer and
# biographies; <results>/knowledge/{variant}/seed{seed}/{regime}/ a model, its training log and its
# QA scores.

DATA = "<results>/knowledge/data/seed{seed}"
RUN = "<results>/knowledge/{variant}/seed{seed}"


include: "helpers/knowledge.smk"


rule people:
    output:
        world=directory(f"{DATA}/world"),
        qa=f"{DATA}/qa.parquet",
    log:
        f"{DATA}/logs/people.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("data")
    resources:
        **cluster_resources("data"),
    params:
        bios=as_json("bios"),
        biod="",
        qa=lambda wildcards, output: f"--qa {output.qa}",
        code=code("physlm.knowledge.worlds"),
    shell:
        "physlm people --bios-config {params.bios:q} {params.biod} --seed {wildcards.seed} "
        "--out-dir {output.world} {params.qa} > {log} 2>&1"


rule biographies:
    input:
        rules.people.output.world,
    output:
        f"{DATA}/bios/{{variant}}.parquet",
    log:
        f"{DATA}/logs/bios_{{variant}}.log",
    # Biographies and pretraining start first: the fine-tunes, probes and tasks all wait on them.
    priority: 10
    conda:
        "../envs/physlm.yaml"
    threads: threads("data")
    resources:
        **cluster_resources("data"),
    params:
        variant=lambda wildcards: wildcards.variant,
        code=code("physlm.knowledge.worlds"),
    shell:
        "physlm biographies --world-dir {input} --variant {params.variant} "
        "--seed {wildcards.seed} --out {output} > {log} 2>&1"


rule tokenizer:
    input:
        rules.people.output.world,
    output:
        directory(f"{DATA}/tokenizer"),
    log:
        f"{DATA}/logs/tokenizer.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("data")
    resources:
        **cluster_resources("data"),
    params:
        code=code("physlm.knowledge.worlds"),
    shell:
        "physlm tokenizer --world-dir {input} --out-dir {output} > {log} 2>&1"


rule pretrain:
    input:
        bios=rules.biographies.output,
        tokenizer=rules.tokenizer.output,
    output:
        model=directory(f"{RUN}/pretrain/model"),
        log=f"{RUN}/pretrain/train_log.parquet",
    log:
        f"{RUN}/pretrain/train.log",
    priority: 10
    retries: config["resources"]["train"]["retries"]
    conda:
        "../envs/physlm.yaml"
    threads: threads("train")
    resources:
        **cluster_resources("train"),
    params:
        start=lambda wildcards, input: f"--tokenizer-dir {input.tokenizer}",
        model=model_option(config["model"]),
        lora="",
        training=as_json("pretrain"),
        data=lambda wildcards, input: f"--bios {input.bios}",
        options="",
        checkpoint=in_results(f"{RUN}/pretrain/checkpoint.pt"),
        code=code("physlm.knowledge.train"),
    shell:
        TRAIN


# The positive control: the QA pairs of the QA-train people mixed into pretraining.
use rule pretrain as train_mixed with:
    input:
        bios=rules.biographies.output,
        qa=rules.people.output.qa,
        tokenizer=rules.tokenizer.output,
    output:
        model=directory(f"{RUN}/mixed/model"),
        log=f"{RUN}/mixed/train_log.parquet",
        curves=f"{RUN}/mixed/curves.parquet",
    log:
        f"{RUN}/mixed/train.log",
    priority: 0
    params:
        training=lambda wildcards: as_json(mixed_training(wildcards.variant)),
        data=lambda wildcards, input: f"--bios {input.bios} --qa {input.qa}",
        options=lambda wildcards, output: (
            f"--qa-ratio {config['mixed']['qa_ratio']} --curves-out {output.curves} "
            f"--curves-identity {shlex.quote(identity(wildcards))}"
        ),
        checkpoint=in_results(f"{RUN}/mixed/checkpoint.pt"),


# QA fine-tuning of a pretrained model on the QA-train people.
use rule pretrain as finetune with:
    input:
        model=rules.pretrain.output.model,
        qa=rules.people.output.qa,
    output:
        model=directory(f"{RUN}/finetune/model"),
        log=f"{RUN}/finetune/train_log.parquet",
    log:
        f"{RUN}/finetune/train.log",
    priority: 0
    params:
        start=lambda wildcards, input: f"--init-dir {input.model}",
        model="",
        lora=lora_option(),
        training=as_json(config["finetune"]["training"]),
        data=lambda wildcards, input: f"--qa {input.qa}",
        checkpoint=in_results(f"{RUN}/finetune/checkpoint.pt"),


rule evaluate_qa:
    input:
        model=f"{RUN}/{{regime}}/model",
        qa=rules.people.output.qa,
        bios=rules.biographies.output,
        world=rules.people.output.world,
    output:
        f"{RUN}/{{regime}}/qa_accuracy.parquet",
    log:
        f"{RUN}/{{regime}}/evaluate.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        batch_size=config["evaluate"]["batch_size"],
        identity=identity,
        code=code("physlm.knowledge.qa"),
    shell:
        "physlm evaluate --model-dir {input.model} --qa {input.qa} --bios {input.bios} "
        "--world-dir {input.world} --batch-size {params.batch_size} --threads {threads} "
        "--identity {params.identity:q} --out {output} > {log} 2>&1"


KNOWLEDGE_METRICS = "<results>/knowledge/qa_accuracy.parquet"
TABLES[KNOWLEDGE_METRICS] = [
    f"<results>/knowledge/{variant}/seed{seed}/{regime}/qa_accuracy.parquet"
    for regime, variant in knowledge_settings()
    for seed in SEEDS
]
TRAINING["knowledge"] = [
    (
        f"<results>/knowledge/{variant}/seed{seed}/{regime}/train_log.parquet",
        {"variant": variant, "regime": regime, "seed": seed},
    )
    for regime, variant in knowledge_settings()
    for seed in SEEDS
]
MIXED_CURVES = "<results>/knowledge/mixed_curves.parquet"
TABLES[MIXED_CURVES] = [
    f"<results>/knowledge/{variant}/seed{seed}/mixed/curves.parquet"
    for variant in config["knowledge"]["mixed_variants"]
    for seed in SEEDS
]
FIGURES["mixed_curves"] = figure(
    plot="physlm.knowledge.finding2_pretraining:plot_mixed_curves",
    tables={"curves": MIXED_CURVES},
    caption="mixed_curves.rst",
    category="Finding 2",
    data=f"{config['bios']['n_people']:,} people (bioS), QA share {config['mixed']['qa_ratio']}",
)
FIGURES["knowledge_extraction"] = figure(
    plot="physlm.knowledge.finding2_pretraining:plot_extraction",
    tables={"metrics": KNOWLEDGE_METRICS},
    caption="knowledge_extraction.rst",
    category="Finding 2",
    data=f"{config['bios']['n_people']:,} people (bioS)",
)
CLAIMS["knowledge"] = claim(
    function="physlm.knowledge.finding2_pretraining:knowledge_claims",
    tables={"metrics": KNOWLEDGE_METRICS},
    thresholds="knowledge",
)
