#!/bin/sh
# GET /: the posts, from the post service (by its service name on the
# network "reddit"), as a page; 502 when post does not answer.
if posts=$(timeout 5 wget -q -O - http://post:5000/cgi-bin/posts); then
	printf 'Content-Type: text/html\r\n\r\n<html><body><h1>Microblog</h1>\n<pre>%s</pre>\n</body></html>\n' "$posts"
else
	printf 'Status: 502 Bad Gateway\r\nContent-Type: text/plain\r\n\r\nui: the post service does not answer\n'
fi
