"""What a point of a space is worth: a trained child (`child`), a zero-cost proxy (`proxies`,
`evaluation`), its measured latency (`latency`) and MnasNet's reward (`reward`)."""
