"""A change to the repository: the intents commands carry, writing files, verifying the written effect, publishing and proposing."""
