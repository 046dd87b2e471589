print("jobsd")
