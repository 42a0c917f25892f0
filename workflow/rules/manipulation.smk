# Finding 5 (Part 3.2): knowledge manipulation, fine-tuned from the knowledge pipeline's pretrained
# models. Layout: results/manipulation/data/seed{seed}/{task}.parquet holds a task's prompts;
# results/manipulation/{variant}/seed{seed}/{task}/ holds the fine-tuned model and its accuracy.

TASK_RUN = "results/manipulation/{variant}/seed{seed}/{task}"


rule task_data:
    input:
        rules.people.output.people,
    output:
        "results/manipulation/data/seed{seed}/{task}.parquet",
    log:
        "results/manipulation/data/seed{seed}/logs/{task}.log",
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["data"]["threads"]
    resources:
        **cluster_resources("data"),
    params:
        pairs=config["manipulation"]["pairs_per_person"],
        version=VERSION,
    shell:
        "physlm task --people {input} --task {wildcards.task} --seed {wildcards.seed} "
        "--pairs-per-person {params.pairs} --out {output} > {log} 2>&1"


rule finetune_task:
    input:
        model=rules.pretrain.output.model,
        task=rules.task_data.output,
    output:
        model=directory(f"{TASK_RUN}/model"),
        log=f"{TASK_RUN}/train_log.parquet",
    log:
        f"{TASK_RUN}/train.log",
    retries: config["resources"]["train"]["retries"]
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["train"]["threads"]
    resources:
        **cluster_resources("train"),
    params:
        training=as_json(config["manipulation"]["training"]),
        lora=lora_option(),
        checkpoint=f"{TASK_RUN}/checkpoint.pt",
        version=VERSION,
    shell:
        "physlm train --tokenizer {input.model} --init {input.model} "
        "--training {params.training:q} --qa {input.task} {params.lora} "
        "--seed {wildcards.seed} --threads {threads} --checkpoint {params.checkpoint} "
        "--out {output.model} --log {output.log} > {log} 2>&1"


rule evaluate_task:
    input:
        model=rules.finetune_task.output.model,
        task=rules.task_data.output,
    output:
        f"{TASK_RUN}/accuracy.parquet",
    log:
        f"{TASK_RUN}/evaluate.log",
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["evaluate"]["threads"]
    resources:
        **cluster_resources("evaluate"),
    params:
        batch_size=config["evaluate"]["batch_size"],
        version=VERSION,
    shell:
        "physlm evaluate-task --model {input.model} --task {input.task} "
        "--batch-size {params.batch_size} --threads {threads} --label variant={wildcards.variant} "
        "--label task={wildcards.task} --label seed={wildcards.seed} --out {output} > {log} 2>&1"


rule manipulation_metrics:
    input:
        [
            f"results/manipulation/{variant}/seed{seed}/{task}/accuracy.parquet"
            for variant, tasks in config["manipulation"]["runs"].items()
            for task in tasks
            for seed in SEEDS
        ],
    output:
        "results/manipulation/accuracy.parquet",
    log:
        "results/manipulation/logs/collect.log",
    conda:
        "../envs/physlm.yaml"
    shell:
        "physlm collect {input} --out {output} > {log} 2>&1"


rule figure_manipulation:
    input:
        rules.manipulation_metrics.output,
    output:
        pdf="results/figures/knowledge_manipulation.pdf",
        # The PNG goes in the HTML report: browsers show it inline.
        png=report(
            "results/figures/knowledge_manipulation.png",
            caption="../report/knowledge_manipulation.rst",
            category="Finding 5",
        ),
    log:
        "results/figures/logs/knowledge_manipulation.log",
    conda:
        "../envs/physlm.yaml"
    shell:
        "physlm figure-manipulation --metrics {input} --out {output.pdf} {output.png} > {log} 2>&1"
