# Where knowledge lives (Part 3.1): P- and Q-probing of pretrained models against their random init.
# Layout: <results>/probing/{variant}/seed{seed}/probes.parquet, collected in <results>/probing/;
# <results>/probing/names/seed{seed}/ the random-init Q-probe that every variant's table reads.


# The random-init Q-probe reads names only: the same for every variant of a seed, so made once.
rule probe_names:
    input:
        tokenizer=rules.tokenizer.output,
        world=rules.people.output.world,
    output:
        "<results>/probing/names/seed{seed}/random_init_q.parquet",
    log:
        "<results>/probing/names/seed{seed}/probe.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        model=as_json("model"),
        probing=as_json({k: v for k, v in config["probing"].items() if k != "variants"}),
        identity=identity,
        code=code("physlm.knowledge.probing"),
    shell:
        "physlm probe-names --tokenizer-dir {input.tokenizer} --model-config {params.model:q} "
        "--probing-config {params.probing:q} --world-dir {input.world} "
        "--seed {wildcards.seed} --threads {threads} --identity {params.identity:q} "
        "--out {output} > {log} 2>&1"


rule probe:
    input:
        model=rules.pretrain.output.model,
        bios=rules.biographies.output,
        world=rules.people.output.world,
        names=rules.probe_names.output,
    output:
        "<results>/probing/{variant}/seed{seed}/probes.parquet",
    log:
        "<results>/probing/{variant}/seed{seed}/probe.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        model=as_json("model"),
        probing=as_json({k: v for k, v in config["probing"].items() if k != "variants"}),
        identity=identity,
        code=code("physlm.knowledge.probing"),
    shell:
        "physlm probe --model-dir {input.model} --model-config {params.model:q} "
        "--probing-config {params.probing:q} --bios {input.bios} --world-dir {input.world} "
        "--names-baseline {input.names} --seed {wildcards.seed} --threads {threads} "
        "--identity {params.identity:q} --out {output} > {log} 2>&1"


PROBES = "<results>/probing/probes.parquet"
TABLES[PROBES] = [
    f"<results>/probing/{variant}/seed{seed}/probes.parquet"
    for variant in config["probing"]["variants"]
    for seed in SEEDS
]
FIGURES["p_probing"] = figure(
    plot="physlm.knowledge.finding2_probing:plot_p_probing",
    tables={"probes": PROBES},
    caption="p_probing.rst",
    category="Finding 2",
    data=f"{config['bios']['n_people']:,} people (bioS)",
)
FIGURES["q_probing"] = figure(
    plot="physlm.knowledge.finding2_probing:plot_q_probing",
    tables={"probes": PROBES, "knowledge": KNOWLEDGE_METRICS},
    caption="q_probing.rst",
    category="Finding 2",
    data=f"{config['bios']['n_people']:,} people (bioS)",
)
CLAIMS["probing"] = claim(
    function="physlm.knowledge.finding2_probing:probing_claim",
    tables={"probes": PROBES},
    thresholds="probing",
)
