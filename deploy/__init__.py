"""Running the product replicated: the one-machine cluster (`make cluster`) and deployment sketches."""
