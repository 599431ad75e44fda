"""The source material's echo server: socket, bind, listen, accept, one thread per client,
recv(1024) / sendall until recv returns nothing, close. Kept as the textbook writes it.

usage: python3 python_echo.py PORT [HOST]
"""
import socket
import sys
import threading


def handle(conn):
    while True:
        data = conn.recv(1024)
        if not data:
            break
        conn.sendall(data)
    conn.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7102
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen()
    while True:
        conn, _addr = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
