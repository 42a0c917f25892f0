# Physics of Language Models, reproduced as a Snakemake workflow.
# `snakemake --cores all` runs the default scale; pass --configfile workflow/config/<scale>.yaml
# for smoke or paper. Every figure has a named target rule (see `snakemake --list-target-rules`).


configfile: "workflow/config/default.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/knowledge.smk"
include: "workflow/rules/manipulation.smk"
include: "workflow/rules/probing.smk"
include: "workflow/rules/capacity.smk"
include: "workflow/rules/claims.smk"


rule all:
    default_target: True
    input:
        rules.figure_capacity.output,
        rules.figure_knowledge.output,
        rules.figure_manipulation.output,
        rules.figure_p_probing.output,
        rules.figure_q_probing.output,
        rules.claims.output,
