"""The NATS edge shared by agent and controller: command routing, serving (nats.micro), the error
boundary, request clients, JetStream assets. Pure parts (`router`) import no nats."""
