"""FaultMaven's AWS infrastructure: thin stacks composed of one construct per capability."""
