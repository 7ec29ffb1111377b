# The lean form make rename leaves by default (docs-check checks it): a page
# without its passages between <!-- proving --> and <!-- /proving --> lines
# (in .env.example, "# " before each). Run as perl -0p(i) devtools/lean.pl FILE...
s/^(# )?<!-- proving -->\n.*?^(# )?<!-- \/proving -->\n//msg;
