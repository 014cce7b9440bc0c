# Sources of the pack stage (explicit list).
