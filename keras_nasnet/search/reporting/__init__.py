"""What a running search writes besides its state: the report (`report`) and the monitors that
keep it and TensorBoard up to date (`monitors`), given to the oracle from outside."""
