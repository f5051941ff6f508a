# The Python app of tests/package/consumers/server_main.cpp (consume_server):
# every path the server has no C++ route for comes here.
def app(request):
    return "python app of a downstream server: " + request.path + "\n"
