# What people read, from what the domain rule files registered (common.smk): each collected metrics
# table, each figure, each domain's claim rows, and the claims table. Every rule here is cheap and
# local (on a cluster it runs where Snakemake runs). Nothing here names a domain: a new figure or
# claim is registered in its domain's rule file.

for table, runs in TABLES.items():

    rule:
        name:
            f"collect_{Path(table).parent.name}_{Path(table).stem}"
        input:
            runs,
        output:
            table,
        log:
            f"{Path(table).parent}/logs/collect_{Path(table).stem}.log",
        localrule: True
        conda:
            "../envs/physlm.yaml"
        params:
            code=code("physlm.engine.artifacts"),
        shell:
            "physlm collect {input} --out {output} > {log} 2>&1"


# Every domain's training curves: its models' logs in one table, and a figure of them.
for domain, logs in TRAINING.items():
    TRAINING_LOGS = f"<results>/{domain}/train_logs.parquet"

    rule:
        name:
            f"collect_{domain}_train_logs"
        input:
            [path for path, _ in logs],
        output:
            TRAINING_LOGS,
        log:
            f"<results>/{domain}/logs/collect_train_logs.log",
        localrule: True
        conda:
            "../envs/physlm.yaml"
        params:
            identities=json.dumps([run for _, run in logs]),
            code=code("physlm.engine.artifacts"),
        shell:
            "physlm collect-logs {input} --identities {params.identities:q} --out {output} > {log} 2>&1"

    FIGURES[f"training_{domain}"] = figure(
        plot="physlm.engine.training_figure:plot_training",
        tables={"logs": TRAINING_LOGS},
        caption="training.rst",
        category="Training",
        data=f"every {domain} model",
    )


for name, spec in FIGURES.items():

    rule:
        name:
            f"figure_{name}"
        input:
            **spec["tables"],
        output:
            pdf=f"<results>/figures/{name}.pdf",
            # The PNG goes in the HTML report: browsers show it inline.
            png=report(
                f"<results>/figures/{name}.png",
                caption=f"../report/{spec['caption']}",
                category=spec["category"],
            ),
        log:
            f"<results>/figures/logs/{name}.log",
        localrule: True
        conda:
            "../envs/physlm.yaml"
        params:
            plot=spec["plot"],
            tables=table_options,
            footer=footer(spec),
            code=code(spec["plot"].partition(":")[0]),
        shell:
            "physlm figure --plot {params.plot} {params.tables} --footer {params.footer:q} "
            "--out {output.pdf} {output.png} > {log} 2>&1"


for name, spec in CLAIMS.items():

    rule:
        name:
            f"claim_{name}"
        input:
            **spec["tables"],
        output:
            f"<results>/claims/{name}.parquet",
        log:
            f"<results>/claims/logs/{name}.log",
        localrule: True
        conda:
            "../envs/physlm.yaml"
        params:
            function=spec["function"],
            tables=table_options,
            thresholds=as_json(config["claims"][spec["thresholds"]]),
            code=code(spec["function"].partition(":")[0]),
        shell:
            "physlm claim --function {params.function} {params.tables} "
            "--thresholds-config {params.thresholds:q} --out {output} > {log} 2>&1"


# One row per claim, every domain's, with its verdict from thresholds fixed in the config.
rule claims:
    input:
        [f"<results>/claims/{name}.parquet" for name in CLAIMS],
    output:
        markdown="<results>/claims.md",
        parquet="<results>/claims.parquet",
        html=report(
            "<results>/claims.html",
            caption="../report/claims.rst",
            category="Claims",
        ),
    log:
        "<results>/logs/claims.log",
    localrule: True
    conda:
        "../envs/physlm.yaml"
    params:
        code=code("physlm.engine.verdict"),
    shell:
        "physlm claims {input} --markdown {output.markdown} --parquet {output.parquet} "
        "--html {output.html} > {log} 2>&1"
