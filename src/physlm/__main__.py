from physlm.cli import main

main()
