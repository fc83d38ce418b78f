module example.com/hookd-receiver

go 1.19
