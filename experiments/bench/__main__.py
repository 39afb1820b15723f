from experiments.bench.run import main

main()
