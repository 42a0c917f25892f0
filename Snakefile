# Physics of Language Models, reproduced as a Snakemake workflow.
# `snakemake --cores all` runs the default scale; pass --configfile workflow/config/<scale>.yaml
# for smoke or paper. Every figure has a named target rule (see `snakemake --list-target-rules`).


configfile: "workflow/config/default.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/knowledge.smk"
include: "workflow/rules/manipulation.smk"
include: "workflow/rules/probing.smk"
include: "workflow/rules/capacity.smk"
include: "workflow/rules/claims.smk"


# Cheap steps that read small tables and draw figures: on a cluster they run where Snakemake runs
# instead of waiting in the queue.
localrules:
    all,
    knowledge_metrics,
    manipulation_metrics,
    probing_metrics,
    capacity_metrics,
    claims,
    figure_knowledge,
    figure_manipulation,
    figure_p_probing,
    figure_q_probing,
    figure_capacity,


rule all:
    default_target: True
    input:
        rules.figure_capacity.output,
        rules.figure_knowledge.output,
        rules.figure_manipulation.output,
        rules.figure_p_probing.output,
        rules.figure_q_probing.output,
        rules.claims.output,
