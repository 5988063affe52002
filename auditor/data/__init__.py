"""Data shipped with decaudit (operator attribution, known keys); every row names its source."""
