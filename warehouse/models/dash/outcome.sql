-- description: marts.intro_outcome with the municipality's name and the person's filter attributes (serving table for Oversikt and Introprogram).
-- not_null: person_id, start_date, end_type
-- grain: person
select o.*, coalesce(m.municipality_name, o.municipality_code) as municipality_name, f.* exclude (person_id)
from marts.intro_outcome o
inner join dash.person_filter f using (person_id)
left join reference.municipality m on o.municipality_code = m.municipality_code
