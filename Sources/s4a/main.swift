print("s4a")
