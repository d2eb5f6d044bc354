"""`make cost`: what calsync costs per million deliveries and per idle month, from measurement.

``units`` is DynamoDB's capacity arithmetic (item and index-entry sizes, rounding), ``prices``
the list prices, ``meter`` counts every AWS request the functions make (botocore hooks),
``mix`` runs the fixture mix through the whole pipeline on moto, ``report`` prints it.
"""
