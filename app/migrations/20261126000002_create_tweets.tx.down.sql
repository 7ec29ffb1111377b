DROP TABLE tweets;
