# Sources of the index stage (explicit list).
