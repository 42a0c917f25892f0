# The claims table: one row per finding, with a verdict from thresholds fixed in the config.


rule claims:
    input:
        capacity=rules.capacity_metrics.output,
        knowledge=rules.knowledge_metrics.output,
        manipulation=rules.manipulation_metrics.output,
        probing=rules.probing_metrics.output,
    output:
        markdown="results/claims.md",
        parquet="results/claims.parquet",
        html=report(
            "results/claims.html",
            caption="../report/claims.rst",
            category="Claims",
        ),
    log:
        "results/logs/claims.log",
    conda:
        "../envs/physlm.yaml"
    params:
        thresholds=as_json("claims"),
    shell:
        "physlm claims --capacity {input.capacity} --knowledge {input.knowledge} --manipulation {input.manipulation} "
        "--probing {input.probing} --thresholds {params.thresholds:q} "
        "--markdown {output.markdown} --parquet {output.parquet} --html {output.html} > {log} 2>&1"
