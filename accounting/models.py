# The money value of points, the journal, breakage and liability reports (see DESIGN.md).
