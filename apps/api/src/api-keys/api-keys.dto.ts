import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsString, Length } from 'class-validator';
import type { ApiKeyScope } from '@tidings/db';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'ci pipeline' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiProperty({ enum: ['read', 'write', 'admin'], isArray: true, example: ['read', 'write'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(3)
  @IsIn(['read', 'write', 'admin'], { each: true })
  scopes!: ApiKeyScope[];
}
