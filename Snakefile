# Physics of Language Models, reproduced as a Snakemake workflow.
# `snakemake --cores all` runs the default scale; pass --configfile workflow/config/<scale>.yaml
# for smoke, mid, gpu or paper. Every figure has a named target rule, figure_<name> (see
# `snakemake --list-target-rules`). A domain's rule file holds its experiment and registers its
# metrics tables, figures and claims; results.smk, included last, makes their rules.


configfile: "workflow/config/default.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/knowledge.smk"
include: "workflow/rules/manipulation.smk"
include: "workflow/rules/probing.smk"
include: "workflow/rules/capacity.smk"
include: "workflow/rules/math.smk"
include: "workflow/rules/results.smk"


rule all:
    default_target: True
    input:
        [
            f"<results>/figures/{name}.{ext}"
            for name in FIGURES
            for ext in ("pdf", "png")
        ],
        rules.claims.output,
