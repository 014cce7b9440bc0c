# Sources of the gcode stage (explicit list).
