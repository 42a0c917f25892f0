# Finding 2 (Part 3.1): knowledge storage and extraction on bioS.
# Layout: results/knowledge/data/seed{seed}/ holds the world (people, QA, tokenizer, biographies);
# results/knowledge/{variant}/seed{seed}/{regime}/ holds a model, its training log and its QA scores.

DATA = "results/knowledge/data/seed{seed}"
RUN = "results/knowledge/{variant}/seed{seed}"


rule people:
    output:
        people=f"{DATA}/people.parquet",
        qa=f"{DATA}/qa.parquet",
    log:
        f"{DATA}/logs/people.log",
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["data"]["threads"]
    resources:
        **cluster_resources("data"),
    params:
        bios=as_json("bios"),
        version=VERSION,
    shell:
        "physlm people --bios {params.bios:q} --seed {wildcards.seed} "
        "--people {output.people} --qa {output.qa} > {log} 2>&1"


rule biographies:
    input:
        rules.people.output.people,
    output:
        f"{DATA}/bios/{{variant}}.parquet",
    log:
        f"{DATA}/logs/bios_{{variant}}.log",
    # Biographies and pretraining start first: the fine-tunes, probes and tasks all wait on them.
    priority: 10
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["data"]["threads"]
    resources:
        **cluster_resources("data"),
    params:
        version=VERSION,
    shell:
        "physlm biographies --people {input} --variant {wildcards.variant} "
        "--seed {wildcards.seed} --out {output} > {log} 2>&1"


rule tokenizer:
    input:
        rules.people.output.people,
    output:
        directory(f"{DATA}/tokenizer"),
    log:
        f"{DATA}/logs/tokenizer.log",
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["data"]["threads"]
    resources:
        **cluster_resources("data"),
    params:
        version=VERSION,
    shell:
        "physlm tokenizer --people {input} --out {output} > {log} 2>&1"


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
    threads: config["resources"]["train"]["threads"]
    resources:
        **cluster_resources("train"),
    params:
        model=as_json("model"),
        training=as_json("pretrain"),
        checkpoint=f"{RUN}/pretrain/checkpoint.pt",
        version=VERSION,
    shell:
        "physlm train --tokenizer {input.tokenizer} --model {params.model:q} "
        "--training {params.training:q} --bios {input.bios} --seed {wildcards.seed} "
        "--threads {threads} --checkpoint {params.checkpoint} "
        "--out {output.model} --log {output.log} > {log} 2>&1"


rule train_mixed:
    input:
        bios=rules.biographies.output,
        qa=rules.people.output.qa,
        tokenizer=rules.tokenizer.output,
    output:
        model=directory(f"{RUN}/mixed/model"),
        log=f"{RUN}/mixed/train_log.parquet",
    log:
        f"{RUN}/mixed/train.log",
    retries: config["resources"]["train"]["retries"]
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["train"]["threads"]
    resources:
        **cluster_resources("train"),
    params:
        model=as_json("model"),
        training=as_json("pretrain"),
        qa_ratio=config["mixed"]["qa_ratio"],
        checkpoint=f"{RUN}/mixed/checkpoint.pt",
        version=VERSION,
    shell:
        "physlm train --tokenizer {input.tokenizer} --model {params.model:q} "
        "--training {params.training:q} --bios {input.bios} --qa {input.qa} "
        "--qa-ratio {params.qa_ratio} --seed {wildcards.seed} --threads {threads} "
        "--checkpoint {params.checkpoint} --out {output.model} --log {output.log} > {log} 2>&1"


rule finetune:
    input:
        model=rules.pretrain.output.model,
        qa=rules.people.output.qa,
    output:
        model=directory(f"{RUN}/finetune/model"),
        log=f"{RUN}/finetune/train_log.parquet",
    log:
        f"{RUN}/finetune/train.log",
    retries: config["resources"]["train"]["retries"]
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["train"]["threads"]
    resources:
        **cluster_resources("train"),
    params:
        training=as_json(config["finetune"]["training"]),
        lora=lora_option(),
        checkpoint=f"{RUN}/finetune/checkpoint.pt",
        version=VERSION,
    shell:
        "physlm train --tokenizer {input.model} --init {input.model} "
        "--training {params.training:q} --qa {input.qa} {params.lora} "
        "--seed {wildcards.seed} --threads {threads} --checkpoint {params.checkpoint} "
        "--out {output.model} --log {output.log} > {log} 2>&1"


rule evaluate_qa:
    input:
        model=f"{RUN}/{{regime}}/model",
        qa=rules.people.output.qa,
        bios=rules.biographies.output,
        people=rules.people.output.people,
    output:
        f"{RUN}/{{regime}}/qa_accuracy.parquet",
    log:
        f"{RUN}/{{regime}}/evaluate.log",
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["evaluate"]["threads"]
    resources:
        **cluster_resources("evaluate"),
    params:
        batch_size=config["evaluate"]["batch_size"],
        version=VERSION,
    shell:
        "physlm evaluate --model {input.model} --qa {input.qa} --bios {input.bios} "
        "--people {input.people} "
        "--batch-size {params.batch_size} --threads {threads} "
        "--label regime={wildcards.regime} --label variant={wildcards.variant} "
        "--label seed={wildcards.seed} --out {output} > {log} 2>&1"


rule knowledge_metrics:
    input:
        [
            f"results/knowledge/{variant}/seed{seed}/{regime}/qa_accuracy.parquet"
            for regime, variant in knowledge_settings()
            for seed in SEEDS
        ],
    output:
        "results/knowledge/qa_accuracy.parquet",
    log:
        "results/knowledge/logs/collect.log",
    conda:
        "../envs/physlm.yaml"
    shell:
        "physlm collect {input} --out {output} > {log} 2>&1"


rule figure_knowledge:
    input:
        rules.knowledge_metrics.output,
    output:
        pdf="results/figures/knowledge_extraction.pdf",
        # The PNG goes in the HTML report: browsers show it inline.
        png=report(
            "results/figures/knowledge_extraction.png",
            caption="../report/knowledge_extraction.rst",
            category="Finding 2",
        ),
    log:
        "results/figures/logs/knowledge_extraction.log",
    conda:
        "../envs/physlm.yaml"
    shell:
        "physlm figure-knowledge --metrics {input} --out {output.pdf} {output.png} > {log} 2>&1"
