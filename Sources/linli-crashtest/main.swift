import LinliStore
print("crashtest")
