"""metarep: theory and simulation of online meta-learning in the teacher-student scenario."""
