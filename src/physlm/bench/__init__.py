"""Benchmarks (`physlm bench`) and the plain-PyTorch reference model they compare against: apart
from the library the pipeline's steps run."""
