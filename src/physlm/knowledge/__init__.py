"""The knowledge domain (Part 3): bioS and bioD worlds, QA, manipulation tasks, P/Q probing and
knowledge capacity; findings 1, 2 and 5. Built on physlm.engine; imports nothing from
physlm.reasoning."""
