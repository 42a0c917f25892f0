# Finding 5 (Part 3.2): knowledge manipulation, fine-tuned from the knowledge pipeline's pretrained
# models. Layout: <results>/manipulation/data/seed{seed}/{task}.parquet holds a task's prompts;
# <results>/manipulation/{variant}/seed{seed}/{task}/ holds the fine-tuned model and its accuracy.

TASK_RUN = "<results>/manipulation/{variant}/seed{seed}/{task}"


rule task_data:
    input:
        rules.people.output.world,
    output:
        "<results>/manipulation/data/seed{seed}/{task}.parquet",
    log:
        "<results>/manipulation/data/seed{seed}/logs/{task}.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("data")
    resources:
        **cluster_resources("data"),
    params:
        pairs=config["manipulation"]["pairs_per_person"],
        code=code("physlm.knowledge.manipulation"),
    shell:
        "physlm task --world-dir {input} --task {wildcards.task} --seed {wildcards.seed} "
        "--pairs-per-person {params.pairs} --out {output} > {log} 2>&1"


# Each task is a fine-tune of the pretrained model, as QA fine-tuning is, on the task's prompts.
use rule finetune as finetune_task with:
    input:
        model=rules.pretrain.output.model,
        qa=rules.task_data.output,
    output:
        model=directory(f"{TASK_RUN}/model"),
        log=f"{TASK_RUN}/train_log.parquet",
    log:
        f"{TASK_RUN}/train.log",
    params:
        training=as_json(config["manipulation"]["training"]),
        checkpoint=in_results(f"{TASK_RUN}/checkpoint.pt"),


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
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        batch_size=config["evaluate"]["batch_size"],
        identity=identity,
        code=code("physlm.knowledge.qa"),
    shell:
        "physlm evaluate-task --model-dir {input.model} --task-table {input.task} "
        "--batch-size {params.batch_size} --threads {threads} --identity {params.identity:q} "
        "--out {output} > {log} 2>&1"


MANIPULATION_METRICS = "<results>/manipulation/accuracy.parquet"
TABLES[MANIPULATION_METRICS] = [
    f"<results>/manipulation/{variant}/seed{seed}/{task}/accuracy.parquet"
    for variant, tasks in config["manipulation"]["runs"].items()
    for task in tasks
    for seed in SEEDS
]
TRAINING["manipulation"] = [
    (
        f"<results>/manipulation/{variant}/seed{seed}/{task}/train_log.parquet",
        {"variant": variant, "task": task, "seed": seed},
    )
    for variant, tasks in config["manipulation"]["runs"].items()
    for task in tasks
    for seed in SEEDS
]
FIGURES["knowledge_manipulation"] = figure(
    plot="physlm.knowledge.finding5_one_way:plot_manipulation",
    tables={"metrics": MANIPULATION_METRICS},
    caption="knowledge_manipulation.rst",
    category="Finding 5",
    data=f"{config['bios']['n_people']:,} people (bioS)",
)
CLAIMS["manipulation"] = claim(
    function="physlm.knowledge.finding5_one_way:manipulation_claims",
    tables={"metrics": MANIPULATION_METRICS},
    thresholds="manipulation",
)
