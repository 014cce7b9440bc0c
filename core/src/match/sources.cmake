# Sources of the match stage (explicit list).
