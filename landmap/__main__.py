from landmap.cli import main

main(prog_name="python -m landmap")
