# Where knowledge lives (Part 3.1): P- and Q-probing of pretrained models against their random init.
# Layout: results/probing/{variant}/seed{seed}/probes.parquet, collected in results/probing/.


rule probe:
    input:
        model=rules.pretrain.output.model,
        bios=rules.biographies.output,
        people=rules.people.output.people,
    output:
        "results/probing/{variant}/seed{seed}/probes.parquet",
    log:
        "results/probing/{variant}/seed{seed}/probe.log",
    conda:
        "../envs/physlm.yaml"
    threads: config["resources"]["evaluate"]["threads"]
    resources:
        **cluster_resources("evaluate"),
    params:
        arch=as_json("model"),
        probing=as_json("probing"),
        version=VERSION,
    shell:
        "physlm probe --model {input.model} --arch {params.arch:q} --probing {params.probing:q} "
        "--bios {input.bios} --people {input.people} --seed {wildcards.seed} --threads {threads} "
        "--label variant={wildcards.variant} --label seed={wildcards.seed} --out {output} > {log} 2>&1"


rule probing_metrics:
    input:
        [
            f"results/probing/{variant}/seed{seed}/probes.parquet"
            for variant in config["probing"]["variants"]
            for seed in SEEDS
        ],
    output:
        "results/probing/probes.parquet",
    log:
        "results/probing/logs/collect.log",
    conda:
        "../envs/physlm.yaml"
    shell:
        "physlm collect {input} --out {output} > {log} 2>&1"


rule figure_p_probing:
    input:
        rules.probing_metrics.output,
    output:
        pdf="results/figures/p_probing.pdf",
        # The PNG goes in the HTML report: browsers show it inline.
        png=report(
            "results/figures/p_probing.png",
            caption="../report/p_probing.rst",
            category="Finding 2",
        ),
    log:
        "results/figures/logs/p_probing.log",
    conda:
        "../envs/physlm.yaml"
    shell:
        "physlm figure-p-probing --probes {input} --out {output.pdf} {output.png} > {log} 2>&1"


rule figure_q_probing:
    input:
        probes=rules.probing_metrics.output,
        knowledge=rules.knowledge_metrics.output,
    output:
        pdf="results/figures/q_probing.pdf",
        # The PNG goes in the HTML report: browsers show it inline.
        png=report(
            "results/figures/q_probing.png",
            caption="../report/q_probing.rst",
            category="Finding 2",
        ),
    log:
        "results/figures/logs/q_probing.log",
    conda:
        "../envs/physlm.yaml"
    shell:
        "physlm figure-q-probing --probes {input.probes} --knowledge {input.knowledge} "
        "--out {output.pdf} {output.png} > {log} 2>&1"
