"""What a point of a space is worth: a trained child (`child`), a zero-cost proxy (`proxies`,
`evaluation`), its measured latency (`latency`), MnasNet's reward (`reward`), and the schedules
of successive halving / Hyperband that spend training on the promising (`fidelities`)."""
