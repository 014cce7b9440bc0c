# Sources of the io stage (explicit list).
