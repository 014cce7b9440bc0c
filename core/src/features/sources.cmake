# Sources of the features stage (explicit list).
