"""The reasoning domain (Part 2): the iGSM generator and checker, math training and solving,
learning curves, V-probes, attention at the solution's start, the mistake probe and the decoders;
findings 3 and 4. Built on physlm.engine; imports nothing from physlm.knowledge."""
